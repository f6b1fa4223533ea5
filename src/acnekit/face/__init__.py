"""Face geometry for assessment: landmarks and irises (`landmarks`), physical scale from the
iris (`iris`), the facial-skin mask (`mask`) and face regions (`regions`). No drawing, no I/O
policy; `acnekit.assess` calls `analyse_face` (in `acnekit.face.pipeline`)."""
