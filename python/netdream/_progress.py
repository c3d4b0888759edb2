"""A tqdm progress bar that the C++ engines can drive."""

from __future__ import annotations

import contextlib


class _Bar:
    def __init__(self, bar):
        self._bar = bar

    @property
    def hook(self):
        """The callback to hand to an engine, or None when nothing is shown."""
        return None if self._bar is None else self.callback

    def callback(self, done):
        """Called by the engines with the work done so far."""
        if self._bar is not None and done > self._bar.n:
            self._bar.update(done - self._bar.n)


@contextlib.contextmanager
def progress_bar(total, enabled=True, **kwargs):
    """Yields an object whose ``callback(done)`` moves the bar to ``done``;
    with ``enabled=False`` it shows nothing (the callback is still safe)."""
    if not enabled:
        yield _Bar(None)
        return
    from tqdm.auto import tqdm
    bar = tqdm(total=total, leave=False, **kwargs)
    try:
        yield _Bar(bar)
    finally:
        bar.close()
