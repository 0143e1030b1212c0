(ns app.core)
