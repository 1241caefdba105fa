"""The output rules of every command, in one place (DESIGN.md, "Errors and files").

:mod:`common.outputs.rules` decides whether a path may be written (new, or ours with
``--overwrite``; never an input); :mod:`common.outputs.staging` builds outputs in hidden
temporaries and publishes them whole. Both are re-exported here: ``from common import outputs``.
"""
from crnn_deploy.common.outputs.rules import *  # noqa: F401,F403
from crnn_deploy.common.outputs.staging import *  # noqa: F401,F403
