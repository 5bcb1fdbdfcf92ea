"""VRT mosaics: one virtual raster over many scenes' outputs, in one CRS, that QGIS and GDAL open
like a single file (sources are referenced by relative path, nothing is copied)."""

from __future__ import annotations

import html
import os
from pathlib import Path

import rasterio
import rasterio.shutil
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT

GDAL_TYPES = {"float32": "Float32", "uint8": "Byte", "uint16": "UInt16", "int16": "Int16", "float64": "Float64"}


def write_mosaic(sources: list[Path], target: Path, crs: CRS, resampling: str) -> None:
    """Mosaic `sources` (single-band rasters) into `target`: a source in another CRS is first written
    as a warped VRT beside the mosaic; where sources overlap, the later one's valid pixels win."""
    entries = []
    for source in sources:
        with rasterio.open(source) as src:
            if src.crs != crs:
                warped = target.parent / "warped" / f"{source.parent.name}_{source.stem}.vrt"
                warped.parent.mkdir(exist_ok=True)
                with WarpedVRT(src, crs=crs, resampling=Resampling[resampling]) as vrt:
                    rasterio.shutil.copy(vrt, warped, driver="VRT")
                source = warped
        with rasterio.open(source) as src:
            entries.append((source, src.transform, src.width, src.height, src.dtypes[0], src.nodata))
    resolution = min(min(abs(t.a), abs(t.e)) for _, t, _, _, _, _ in entries)
    left = min(t.c for _, t, _, _, _, _ in entries)
    top = max(t.f for _, t, _, _, _, _ in entries)
    right = max(t.c + w * t.a for _, t, w, _, _, _ in entries)
    bottom = min(t.f + h * t.e for _, t, _, h, _, _ in entries)
    width, height = round((right - left) / resolution), round((top - bottom) / resolution)
    dtype, nodata = entries[0][4], entries[0][5]
    lines = [f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">',
             f"  <SRS>{html.escape(crs.to_wkt())}</SRS>",
             f"  <GeoTransform>{left!r}, {resolution!r}, 0, {top!r}, 0, {-resolution!r}</GeoTransform>",
             f'  <VRTRasterBand dataType="{GDAL_TYPES.get(dtype, "Float32")}" band="1">']
    if nodata is not None:
        lines.append(f"    <NoDataValue>{nodata!r}</NoDataValue>")
    for source, transform, w, h, _, source_nodata in entries:
        column = (transform.c - left) / resolution
        row = (top - transform.f) / resolution
        relative = html.escape(os.path.relpath(source, target.parent))
        lines += [f'    <ComplexSource resampling="{resampling}">',
                  f'      <SourceFilename relativeToVRT="1">{relative}</SourceFilename>',
                  "      <SourceBand>1</SourceBand>",
                  f'      <SrcRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/>',
                  f'      <DstRect xOff="{column!r}" yOff="{row!r}" xSize="{w * abs(transform.a) / resolution!r}" '
                  f'ySize="{h * abs(transform.e) / resolution!r}"/>']
        if source_nodata is not None:
            lines.append(f"      <NODATA>{source_nodata!r}</NODATA>")
        lines.append("    </ComplexSource>")
    lines += ["  </VRTRasterBand>", "</VRTDataset>"]
    target.write_text("\n".join(lines) + "\n")
