main = pure ()
