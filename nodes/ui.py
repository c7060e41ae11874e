"""Small helpers for what a node shows the user: progress and text on the node."""


def progress_bar(total: int):
    """A callback progress(done, total) that drives the host's progress bar."""
    import comfy.utils

    bar = comfy.utils.ProgressBar(max(1, total))
    return lambda done, count: bar.update_absolute(done, count)


def shown(result: tuple, lines: list[str]) -> dict:
    """Classic return that also shows text on the node."""
    return {"ui": {"text": ["\n".join(line for line in lines if line)]}, "result": result}
