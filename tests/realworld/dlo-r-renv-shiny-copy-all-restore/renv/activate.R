# renv
