"""Geometry helpers: a second file to try `diffcoder-lsp` on from an editor."""

import math


def circle_area(r):
    return math.pi * r * r


def rectangle_area(w, h):
    return w * h


def scale(points, factor):
    return [(x * factor, y * factor) for x, y in points]
