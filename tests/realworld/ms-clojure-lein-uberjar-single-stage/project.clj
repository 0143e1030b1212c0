(defproject notes "0.1.0")
