-- The demo: which ResNet50 layer's features, added to the structured columns, predict the label best?
-- Paths are relative to the repository root (make demo runs from there).

CREATE OR REPLACE TEMPORARY VIEW digit_files
  USING binaryFile OPTIONS (path 'build/demo/images', pathGlobFilter '*.png');

CREATE OR REPLACE TEMPORARY VIEW images AS
  SELECT CAST(regexp_extract(path, '([0-9]+)[.]png$', 1) AS INT) AS id, content
  FROM digit_files;

CREATE OR REPLACE TEMPORARY VIEW products
  USING parquet OPTIONS (path 'build/demo/products.parquet');

TRANSFER FEATURES FROM resnet50 WEIGHTS RANDOM SEED 0
  LAYERS (conv4_block6_out, conv5_block1_out, conv5_block3_out, avg_pool)
  ON images AS i (id, content)
  JOIN products AS p USING (id)
  TRAIN logistic_regression (LABEL is_popular)
  EVALUATE SPLIT 0.25
  MATERIALIZE INTO 'build/demo/features';
