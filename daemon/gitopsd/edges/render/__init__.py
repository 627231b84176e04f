"""The render edge: turns a path in a materialised source tree into a YAML stream.

Plain directories, Kustomize and Helm are supported; the external tools run
through a guarded subprocess runner (timeout, output cap, scrubbed
environment, process-group kill) and results are cached per commit. This
package produces text only; turning it into manifests is ``core``'s job.
"""

from gitopsd.edges.render.cache import CacheStats, RenderCache, cache_key
from gitopsd.edges.render.charts import ChartFetcher, PulledChart
from gitopsd.edges.render.chartsource import ChartSource
from gitopsd.edges.render.renderer import Renderer, RenderStats
from gitopsd.edges.render.request import (
    Rendered,
    RendererKind,
    RenderRequest,
    detect_kind,
)
from gitopsd.edges.render.runner import Limits, run_tool

__all__ = [
    "CacheStats",
    "ChartFetcher",
    "ChartSource",
    "Limits",
    "PulledChart",
    "RenderCache",
    "RenderRequest",
    "RenderStats",
    "Rendered",
    "Renderer",
    "RendererKind",
    "cache_key",
    "detect_kind",
    "run_tool",
]
