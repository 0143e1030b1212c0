# bootstraps renv for this project
