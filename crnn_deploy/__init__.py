"""crnn-deploy: a CTC text recognizer from its checkpoint or ONNX file to device engines.

The one import name of the project. The stage folders of the repository (``models/``,
``converter/``, ``preprocess/``, ``runtime/``, ``postprocess/``, ``pipeline/``, ``bench/``,
``common/``) install as its subpackages (``crnn_deploy.runtime`` ...; pyproject.toml,
``[tool.setuptools.package-dir]``), so no generic top-level name reaches site-packages and a
user's own ``models/`` folder or ``pipeline.py`` cannot shadow them.

Public API::

    from crnn_deploy import Recognizer
    rec = Recognizer("build/nano-ocr_bs16.onnx")
    text, confidence = rec("word.png")

    from crnn_deploy import OCR          # whole pages: detect, classify the angle, recognize
    ocr = OCR(det="build/ppocrv4-det.xml", cls="build/ppocr-cls.xml", rec="build/ppocrv4-rec.xml")
    page = ocr("page.png")               # {"page": ..., "boxes": [{"points", "text", ...}]}

``Recognizer`` and ``OCR`` are imported lazily: ``import crnn_deploy`` loads no engine SDK.
"""

__all__ = ["OCR", "Recognizer"]


def __getattr__(name: str):
    if name == "Recognizer":
        from crnn_deploy.pipeline.recognizer import Recognizer

        return Recognizer
    if name == "OCR":
        from crnn_deploy.pipeline.pages.ocr import OCR

        return OCR
    raise AttributeError(f"module 'crnn_deploy' has no attribute {name!r}")
