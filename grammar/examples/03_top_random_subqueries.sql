TRANSFER FEATURES FROM vgg16 WEIGHTS RANDOM SEED 3 LAYERS TOP 3
  ON (SELECT CAST(regexp_extract(path, '([0-9]+)[.]png$', 1) AS INT) AS id, content FROM files) f (id, content)
  JOIN (SELECT * FROM listings WHERE city = 'Lyon') l ON f.id = l.listing_id
  TRAIN logistic_regression (LABEL sold, FEATURES (price, rooms))
