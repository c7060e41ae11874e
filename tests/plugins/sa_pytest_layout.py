"""pytest plugin (loaded by addopts): the repository root is a ComfyUI package whose __init__.py
registers the nodes; pytest must collect it as a plain directory, never import it as a test
package (under the clone's folder name, often not even a valid module name)."""

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_collect_directory(path, parent):
    if path == parent.config.rootpath:
        return pytest.Dir.from_parent(parent, path=path)
    return None
