(defproject shelf "1.0.0")
