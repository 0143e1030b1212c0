(ns notes.core)
