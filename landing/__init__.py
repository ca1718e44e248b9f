"""Tools that write landing folders: the demo generator (`landing.generate`) and the adapters
from other review-log formats (`landing.adapters`). They write files, so they live outside the
pure `transforms` package; nothing in `transforms`, `reports` or `pipelines` imports them."""
