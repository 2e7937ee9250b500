EXPLAIN TRANSFER FEATURES FROM mobilenetv2 WEIGHTS RANDOM LAYERS (out_relu, block_15_add)
  ON catalog_db.images (`key`, `bytes`) JOIN catalog_db.patients USING (`key`)
  TRAIN logistic_regression (LABEL diagnosis)
