TRANSFER FEATURES FROM MODEL '/models/resnet18.onnx'
  LAYERS (`/layer4/layer4.1/relu_1/Relu_output_0`, `/avgpool/GlobalAveragePool`)
  ON images AS i (id, content) JOIN products AS p USING (id)
  TRAIN logistic_regression (LABEL is_popular)
  OPTIONS (preprocess = 'torch')
