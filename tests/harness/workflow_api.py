"""UI workflow -> API prompt conversion for the demo, the workflow generator and the tests.

The converter lives in the fan-out client (commands/fanout/workflow.py), which must run without the
harness; this module re-exports it so the harness's users keep `from harness import workflow_api as wf`.
"""

from fanout.workflow import *  # noqa: F403  (every public name of the converter)
