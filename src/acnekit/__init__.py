"""acnekit: find, count, size and grade acne lesions; handle Acne04-v2-style datasets."""

from acnekit.circles import Circles
from acnekit.dataset import AcneDataset, ImageRecord, load_dataset, save_dataset
from acnekit.errors import AcneKitError, DatasetError, ImageError, ModelError

__version__ = "0.1.0"

__all__ = [
    "AcneDataset",
    "AcneKitError",
    "Circles",
    "DatasetError",
    "ImageError",
    "ImageRecord",
    "ModelError",
    "load_dataset",
    "save_dataset",
]
