puts "bot"
