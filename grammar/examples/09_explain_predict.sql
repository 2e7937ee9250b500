EXPLAIN PREDICT WITH popular_model
  ON new_images AS i (id, content) JOIN new_products AS p ON p.id = i.id
