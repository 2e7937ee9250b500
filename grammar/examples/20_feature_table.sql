TRANSFER FEATURES FROM resnet50 LAYERS (conv5_block3_out, avg_pool)
  ON images AS i (id, content) JOIN products AS p USING (id)
  TRAIN logistic_regression (LABEL is_popular)
  MATERIALIZE INTO TABLE catalog_features
