puts "feeds"
