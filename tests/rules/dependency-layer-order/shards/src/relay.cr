puts "relay"
