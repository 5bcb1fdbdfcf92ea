"""Mapping: scene -> tiles -> probabilities -> maps and inventory (scene_map.map_scene is the stage).

Nothing here imports TensorFlow at package import: mapping.config is read by the command line first."""
