shiny::runApp(port = 3838)
