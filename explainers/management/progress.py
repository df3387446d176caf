"""The progress bar of the training commands, fed by the training loops' ``progress(step, total, metrics)``."""
from __future__ import annotations


class StepProgressBar:
    """A tqdm bar opened at the first step reported (a resumed run starts part-way), showing ``shown`` metrics.

    Call ``close`` (or use it as a context manager) once training ends or fails.
    """

    def __init__(self, stream, *, description: str, shown: tuple[str, ...]):
        self.stream, self.description, self.shown = stream, description, shown
        self.bar = None

    def __call__(self, step: int, total: int, metrics: dict[str, float]) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=step - 1, desc=self.description, unit="step", file=self.stream)
        self.bar.update(1)
        self.bar.set_postfix({k: f"{v:.3f}" for k, v in metrics.items() if k in self.shown}, refresh=False)

    def __enter__(self) -> "StepProgressBar":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
