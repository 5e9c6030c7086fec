"""Export: a searched subnet with its weights as a directory (arch.json, model.pt, model.onnx, README.md),
loading it back, and training it on a task (`hwnas extract`, `hwnas train`)."""

from hwnas.artifacts import load_subnet, read_arch_json, subnet_space
from hwnas.errors import ExportError
from hwnas.export._extract import Extracted, extract_subnet
from hwnas.export._onnx import export_onnx
from hwnas.export._source import SubnetSource, from_arch
from hwnas.export._train import train_extracted

__all__ = [
    "ExportError", "Extracted", "SubnetSource", "export_onnx", "extract_subnet", "from_arch",
    "load_subnet", "read_arch_json", "subnet_space", "train_extracted",
]
