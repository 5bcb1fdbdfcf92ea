"""One scene's outputs built from its tile files as the tiles come in, so writing the raw rasters
overlaps the workers' prediction instead of following it; finished when the last tile is in."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from lim_tf.atomic import atomic_directory
from lim_tf.geo.windows import Tile
from lim_tf.mapping.config import MapConfig
from lim_tf.mapping.predict import SceneWriter
from lim_tf.mapping.scene import open_scene
from lim_tf.mapping.scene_map import Mapping, finish_scene
from lim_tf.mapping.summary import SceneSummary
from lim_tf.mapping.terrain import SlopeSampler
from lim_tf.mapping.tiles import SceneJob, load_result


class SceneAssembly:
    """The staged OUT/<scene>/ (OUT itself for a single scene) with its raw rasters open."""

    def __init__(self, job: SceneJob, name: str, staging: Path, single: bool, config: MapConfig,
                 mapping: Mapping) -> None:
        self.job, self.config, self.mapping = job, config, mapping
        self.stack = contextlib.ExitStack()
        try:
            self.scene = open_scene(job.scene, mapping.bands)
            self.stack.callback(self.scene.close)
            self.folder = staging if single else self.stack.enter_context(atomic_directory(staging / name))
            self.writer = SceneWriter(self.scene, self.folder, len(mapping.model_names) > 1, mapping.threshold,
                                      config.uncertainty)
        except BaseException:
            self.stack.__exit__(*sys.exc_info())
            raise

    def add(self, batch: list[Tile]) -> None:
        for tile in batch:
            self.writer.write(load_result(self.job.folder, tile))

    def finish(self) -> SceneSummary:
        """Close the rasters, write COGs, inventory and summary; the scene's folder takes its place."""
        try:
            self.writer.close()
            config = self.config
            slope = SlopeSampler(Path(config.dem), self.scene.dataset) if config.dem else None
            summary = finish_scene(self.scene, self.job.scene.path, self.writer.rasters, self.folder, config,
                                   self.mapping, slope)
            summary.save(self.folder)
        except BaseException:
            self.stack.__exit__(*sys.exc_info())  # the staged folder goes; nothing half-written stays
            raise
        self.stack.close()
        return summary

    def abandon(self) -> None:
        """Drop what was written (a failed scene, or a run that stops)."""
        with contextlib.suppress(Exception):
            self.writer.close()
        error = RuntimeError("abandoned")
        with contextlib.suppress(Exception):
            self.stack.__exit__(RuntimeError, error, None)
