"""Network diagrams, drawn from the static analysis alone (no torch).

`layout.layout(network)` places every box, frame, arrow and label of a checked network in
a `scene.Scene`; `svg.svg(scene)` writes it as SVG text and `png.png(scene)` draws it with
Pillow. Both writers draw the same scene, so the two formats show the same picture.
"""
