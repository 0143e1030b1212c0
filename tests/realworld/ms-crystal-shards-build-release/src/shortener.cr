puts "short"
