"""The directories hwnas writes and reads back: trained supernets and extracted subnets.

A low layer (it needs only search spaces), so training can read an extracted subnet as a teacher and
export can write one without either importing the other.
"""

from hwnas.artifacts._files import load_tensors, read_description, read_text_file
from hwnas.artifacts.subnet_dir import (
    ARCH_FILE,
    FORMAT_VERSION,
    HARDWARE_FILE,
    METRICS_FILE,
    ONNX_FILE,
    OWNED_FILES,
    README_FILE,
    VOCAB_FILE,
    WEIGHTS_FILE,
    read_arch_json,
    write_json,
)
from hwnas.artifacts.subnet_load import build_module, load_subnet, subnet_space

__all__ = [
    "ARCH_FILE", "FORMAT_VERSION", "HARDWARE_FILE", "METRICS_FILE", "ONNX_FILE", "OWNED_FILES", "README_FILE", "VOCAB_FILE",
    "WEIGHTS_FILE", "build_module", "load_subnet", "load_tensors", "read_arch_json", "read_description", "read_text_file", "subnet_space",
    "write_json",
]
