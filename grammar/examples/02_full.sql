TRANSFER FEATURES
  FROM resnet50 WEIGHTS 'imagenet'
  LAYERS (conv4_block6_out, conv5_block1_out, conv5_block3_out, avg_pool)
  ON images AS i (id, content)
  JOIN products AS p USING (id)
  WHERE p.price > 10
  TRAIN logistic_regression (LABEL is_popular, max_iter = 10, reg_param = 0.01, elastic_net = 0.5)
  EVALUATE SPLIT 0.2
  MATERIALIZE INTO '/data/features'
  OPTIONS (seed = 7, batch_size = 16)
