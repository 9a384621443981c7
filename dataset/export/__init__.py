"""Export datasets to formats other tools read, and import them back (round trips are exact).

- robomimic-style HDF5 (one file; h5py): `export_robomimic`, `import_robomimic`.
- Minari (Farama) datasets: `export_minari`, `import_minari` (minari is imported on first use).

Layouts in docs/dataset.md ("Tools").
"""

from dataset.export.minari_format import export_minari, import_minari, minari_folder
from dataset.export.robomimic import export_robomimic, import_robomimic

__all__ = ["export_minari", "export_robomimic", "import_minari", "import_robomimic", "minari_folder"]
