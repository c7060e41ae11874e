"""The method itself: pure torch / numpy, no ComfyUI import, unit-tested on CPU."""
