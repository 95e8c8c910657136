"""archlab: the system-design codex made executable.

Every mechanism of the system-design codex is a real, tested implementation in one of the chapter
packages, and every claim is an experiment (see :mod:`archlab.lab`) whose verdict is computed
from measurements.
"""

__version__ = "0.1.0"
