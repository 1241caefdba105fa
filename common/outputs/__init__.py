"""The output rules of every command, in one place (docs/DESIGN.md, "Errors and files").

:mod:`common.outputs.rules` decides whether a path may be written (new, or ours with
``--overwrite``; never an input); :mod:`common.outputs.staging` builds outputs in hidden
temporaries and publishes them whole; :mod:`common.outputs.single` publishes single files with an
atomic no-clobber step and an ownership record; :mod:`common.outputs.group` publishes a model
file with the files read through it (an IR's ``.xml`` + ``.bin``) under the same rules. All are
:mod:`common.outputs.paths` refuses an output through a symlink and a path that leaves its
folder. All are re-exported here:
``from crnn_deploy.common import outputs``.
"""
from crnn_deploy.common.outputs.group import *  # noqa: F401,F403
from crnn_deploy.common.outputs.paths import *  # noqa: F401,F403
from crnn_deploy.common.outputs.rules import *  # noqa: F401,F403
from crnn_deploy.common.outputs.single import *  # noqa: F401,F403
from crnn_deploy.common.outputs.staging import *  # noqa: F401,F403
