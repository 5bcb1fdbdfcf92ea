"""How the map outputs look when opened: colour table and band descriptions in the rasters, QML
sidecars that QGIS loads with them, and a default style in the GeoPackage's layer_styles table.

One colour language across QGIS and the quicklook: landslides are red, outlined in yellow. The
landslide raster is half-transparent red on no data elsewhere, and the probability a yellow-to-red
ramp, transparent near 0, so in whatever order an analyst stacks the files the imagery, the ramp and
the polygons' outlines stay visible; polygons are yellow outlines over a light red fill, green when an
analyst confirmed them and grey when rejected (the `review` column). Legends list only what is drawn.
"""

from __future__ import annotations

import datetime
import hashlib
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pyogrio.raw

LANDSLIDE_RED = (227, 26, 28, 255)
OUTLINE_YELLOW = (255, 230, 0, 255)  # a polygon's edge: it stands out on the red fill and on imagery
LANDSLIDE_NODATA = 0  # landslides.tif: 1 landslide, no data elsewhere (drawn transparent without a style)
LANDSLIDE_COLOURS = {0: (0, 0, 0, 0), 1: LANDSLIDE_RED}
LANDSLIDE_OPACITY = 0.5  # the polygons' outlines and the ramp show through, in any layer order
REVIEW_VALUES = ("confirmed", "rejected")  # what an analyst writes in the inventory's review column

_HEADER = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n<qgis version=\"3.22.16\" " \
          "styleCategories=\"AllStyleCategories\">\n"
_RASTER_TAIL = """    <brightnesscontrast brightness="0" contrast="0" gamma="1"/>
    <huesaturation saturation="0" grayscaleMode="0" colorizeOn="0"/>
    <rasterresampler maxOversampling="2"/>
    <resamplingStage>resamplingFilter</resamplingStage>
  </pipe>
  <blendMode>0</blendMode>
</qgis>
"""

LANDSLIDES_QML = _HEADER + """  <pipe>
    <rasterrenderer type="paletted" band="1" opacity="{opacity}" alphaBand="-1" nodataColor="">
      <rasterTransparency/>
      <minMaxOrigin><limits>None</limits><extent>WholeRaster</extent><statAccuracy>Estimated</statAccuracy>
      <cumulativeCutLower>0.02</cumulativeCutLower><cumulativeCutUpper>0.98</cumulativeCutUpper>
      <stdDevFactor>2</stdDevFactor></minMaxOrigin>
      <colorPalette>
        <paletteEntry value="1" color="#e31a1c" alpha="255" label="landslide"/>
      </colorPalette>
    </rasterrenderer>
""".replace("{opacity}", str(LANDSLIDE_OPACITY)) + _RASTER_TAIL

_RAMP = (("0", "#ffffb2", 0), ("0.25", "#fecc5c", 90), ("0.5", "#fd8d3c", 170), ("0.75", "#f03b20", 220),
         ("1", "#bd0026", 255))
PROBABILITY_QML = _HEADER + """  <pipe>
    <rasterrenderer type="singlebandpseudocolor" band="1" opacity="0.6" alphaBand="-1" classificationMin="0"
      classificationMax="1" nodataColor="">
      <rasterTransparency/>
      <minMaxOrigin><limits>None</limits><extent>WholeRaster</extent><statAccuracy>Estimated</statAccuracy>
      <cumulativeCutLower>0.02</cumulativeCutLower><cumulativeCutUpper>0.98</cumulativeCutUpper>
      <stdDevFactor>2</stdDevFactor></minMaxOrigin>
      <rastershader>
        <colorrampshader colorRampType="INTERPOLATED" classificationMode="1" clip="0" minimumValue="0"
          maximumValue="1" labelPrecision="2">
""" + "".join(f'          <item value="{v}" color="{c}" alpha="{a}" label="{v}"/>\n' for v, c, a in _RAMP) + \
    """        </colorrampshader>
      </rastershader>
    </rasterrenderer>
""" + _RASTER_TAIL


def _fill_symbol(name: str, fill: str, outline: str, width: float, style: str = "solid") -> str:
    return f"""      <symbol type="fill" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">
        <layer class="SimpleFill" enabled="1" locked="0" pass="0">
          <Option type="Map">
            <Option type="QString" name="color" value="{fill}"/>
            <Option type="QString" name="outline_color" value="{outline}"/>
            <Option type="QString" name="outline_style" value="{style}"/>
            <Option type="QString" name="outline_width" value="{width}"/>
            <Option type="QString" name="outline_width_unit" value="MM"/>
            <Option type="QString" name="style" value="solid"/>
          </Option>
        </layer>
      </symbol>
"""


def _rule_qml(rules: list[tuple[str, str, str]], symbols: str) -> str:
    """A rule-based polygon style: (label, filter, symbol number) per rule, first match wins."""
    body = "".join(f'      <rule key="{n}" symbol="{symbol}" label="{label}" filter="{escape(test, {chr(34): "&quot;"})}"/>\n'
                   for n, (label, test, symbol) in enumerate(rules))
    return _HEADER + f"""  <renderer-v2 type="RuleRenderer" symbollevels="0" enableorderby="0" forceraster="0">
    <rules key="root">
{body}    </rules>
    <symbols>
{symbols}    </symbols>
  </renderer-v2>
  <blendMode>0</blendMode>
  <featureBlendMode>0</featureBlendMode>
  <layerGeometryType>2</layerGeometryType>
</qgis>
"""


YELLOW = ",".join(map(str, OUTLINE_YELLOW))
REVIEWED = [("confirmed", "\"review\" = 'confirmed'", "0"), ("rejected (false alarm)", "\"review\" = 'rejected'", "1")]
REVIEW_SYMBOLS = _fill_symbol("0", "26,150,65,60", "26,150,65,255", 0.6) + \
    _fill_symbol("1", "128,128,128,30", "128,128,128,255", 0.4, "dash")
# The inventory: a bolder outline the surer the polygon (`confidence`, where the model has one).
INVENTORY_QML = _rule_qml(REVIEWED + [("landslide, confidence 0.8 or more", "\"confidence\" >= 0.8", "2"),
                                      ("landslide (not reviewed)", "ELSE", "3")],
                          REVIEW_SYMBOLS + _fill_symbol("2", "227,26,28,70", YELLOW, 0.9) +
                          _fill_symbol("3", "227,26,28,40", YELLOW, 0.5))
# Polygons under the confidence cut: kept for review in their own layer, drawn faintly.
CANDIDATES_QML = _rule_qml(REVIEWED + [("candidate (below the confidence cut)", "ELSE", "2")],
                           REVIEW_SYMBOLS + _fill_symbol("2", "255,255,255,0", "255,190,120,255", 0.4, "dot"))
STYLES = {"inventory": INVENTORY_QML, "candidates": CANDIDATES_QML}


def picture_stamp(model: str) -> dict[str, str]:
    """What a rendered picture of a map shows: the shipped model's weights and these styles (by
    SHA-256), so a test can tell a picture in the docs that is older than either."""
    from lim_tf.zoo import weights_path

    styles = (LANDSLIDES_QML + PROBABILITY_QML + INVENTORY_QML + CANDIDATES_QML).encode()
    return {"model": model, "weights_sha256": hashlib.sha256(weights_path(model).read_bytes()).hexdigest(),
            "styles_sha256": hashlib.sha256(styles).hexdigest()}


def style_landslide_band(dataset) -> None:
    """Colour table and description on an open landslide raster."""
    dataset.write_colormap(1, LANDSLIDE_COLOURS)
    dataset.set_band_description(1, "landslide")  # QGIS's legend heading; 1 landslide, no data elsewhere


def style_probability_band(dataset, threshold: float) -> None:
    """Description, the 0..1 range for a default stretch, and the threshold the map used."""
    dataset.set_band_description(1, "landslide probability")
    dataset.update_tags(1, STATISTICS_MINIMUM="0", STATISTICS_MAXIMUM="1", LANDSLIDE_THRESHOLD=f"{threshold:g}")


def write_raster_styles(folder: Path) -> None:
    """QML sidecars that QGIS applies when it opens landslides.tif and probability.tif (or the
    region's .vrt mosaics): QGIS looks for NAME.qml beside NAME.tif."""
    (folder / "landslides.qml").write_text(LANDSLIDES_QML)
    (folder / "probability.qml").write_text(PROBABILITY_QML)


def add_default_style(gpkg: Path, layer: str) -> None:
    """Store the style of `layer` (inventory or candidates) in the GeoPackage's layer_styles table (as
    QGIS itself does), marked as the default, so QGIS applies it on open."""
    names = ["f_table_catalog", "f_table_schema", "f_table_name", "f_geometry_column", "styleName", "styleQML",
             "styleSLD", "useAsDefault", "description", "owner", "ui", "update_time"]
    values = ["", "", layer, "geom", layer, STYLES[layer], "", 1, "lim-tf: yellow outlines on red, bolder the "
              "surer; review column: confirmed green, rejected grey", "lim-tf", "",
              datetime.datetime.now(datetime.UTC).isoformat()]
    columns = [np.array([v], dtype=np.int64 if isinstance(v, int) else object) for v in values]
    pyogrio.raw.write(gpkg, None, columns, names, layer="layer_styles", driver="GPKG", append=True)
