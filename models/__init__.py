"""PyTorch CRNN definitions and model specs.

Importing this package (and ``models.specs``) does not import torch; the architectures in
``models.arch_*`` and ``models.checkpoint`` do.
"""
from crnn_deploy.common.errors import UserError
from crnn_deploy.models.specs import METADATA_KEY, SPECS, ModelSpec, get_spec

__all__ = ["METADATA_KEY", "SPECS", "ModelSpec", "UserError", "get_spec"]
