rootProject.name = "tariffs"
