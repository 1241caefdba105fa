"""Preprocessing: images + gt.txt -> LMDB (clovaai layout); LMDB -> float32 .bin + label.txt.

Public API (no torch here):

* :func:`preprocess.transform.preprocess_image` -- bytes/PIL image -> float32 (C, H, W)
* :func:`preprocess.lmdb_io.iter_samples` -- stream (index, image bytes, label) from an LMDB
* :func:`preprocess.lmdb_build.build_lmdb` and :func:`preprocess.lmdb_to_bin.lmdb_to_bin`
"""
