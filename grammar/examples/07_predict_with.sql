PREDICT WITH popular_model
  ON new_images AS i (id, content) JOIN new_products AS p USING (id)
  WHERE p.price > 0
