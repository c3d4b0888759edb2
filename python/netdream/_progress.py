"""Progress bars (tqdm) that the C++ engines and the Python loops can drive.

In Jupyter with ipywidgets a notebook bar is shown; without ipywidgets the
text bar, quietly (no "IProgress not found" warning). Outside notebooks the
bar is shown only when standard error is a terminal, so that logs of batch
jobs stay clean.
"""

from __future__ import annotations

import contextlib
import importlib.util


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

    def note(self, text: str) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(text)


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def tqdm_bar(**kwargs):
    """A tqdm bar as this module chooses it (see the module docstring)."""
    if _in_notebook():
        if importlib.util.find_spec("ipywidgets") is not None:
            from tqdm.notebook import tqdm
            return tqdm(**kwargs)
        from tqdm.std import tqdm
        return tqdm(**{"disable": False, **kwargs})
    from tqdm.std import tqdm
    if kwargs.get("disable") is False:
        kwargs["disable"] = None  # None: only on a terminal
    return tqdm(**{"disable": None, **kwargs})


@contextlib.contextmanager
def progress_bar(total, enabled=True, **kwargs):
    """Yields an object whose ``callback(done)`` moves the bar to ``done``;
    with ``enabled=False`` it shows nothing (the callback is still safe)."""
    if not enabled:
        yield _Bar(None)
        return
    bar = tqdm_bar(total=total, leave=False, **kwargs)
    try:
        yield _Bar(bar)
    finally:
        bar.close()
