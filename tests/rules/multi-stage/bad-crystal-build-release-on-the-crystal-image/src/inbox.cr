puts "inbox up"
