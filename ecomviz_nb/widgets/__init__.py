"""The widget panels: connect, create a product, generate, try on, sweep, batch, follow jobs.

Each panel is an ``ipywidgets`` box whose parts are attributes (``panel.generate_button``),
so it can be driven from code and tested without a browser.
"""

from .batch import BatchPanel
from .connect import ConnectPanel
from .generate import GeneratePanel
from .history import HistoryStrip
from .jobs import JobsPanel
from .product import ProductPanel
from .sweep import SweepPanel
from .tryon import TryOnPanel

__all__ = [
    "BatchPanel",
    "ConnectPanel",
    "GeneratePanel",
    "HistoryStrip",
    "JobsPanel",
    "ProductPanel",
    "SweepPanel",
    "TryOnPanel",
]
