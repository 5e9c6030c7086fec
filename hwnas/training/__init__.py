"""Training: supernets (sandwich rule, in-place and teacher distillation), standalone subnets, accuracy.

A trained supernet is a directory (`supernet.json` + `checkpoint.pt`, see `checkpoint`), written by
`hwnas train-supernet` and read by the accuracy evaluator, extraction and co-design.
"""

from hwnas.training._loop import evaluate_accuracy
from hwnas.training.checkpoint import (
    CheckpointError,
    LoadedSupernet,
    build_meta,
    load_supernet,
    read_meta,
    save_supernet,
)
from hwnas.training.detection import evaluate_map
from hwnas.training.evaluation import subnet_accuracy, subnet_map
from hwnas.training.subnet import train_subnet
from hwnas.training.supernet import SupernetTrainer, TrainingError, TrainSettings, train_supernet

__all__ = [
    "CheckpointError", "LoadedSupernet", "SupernetTrainer", "TrainSettings", "TrainingError", "build_meta",
    "evaluate_accuracy", "evaluate_map", "load_supernet", "read_meta", "save_supernet", "subnet_accuracy", "subnet_map",
    "train_subnet", "train_supernet",
]
