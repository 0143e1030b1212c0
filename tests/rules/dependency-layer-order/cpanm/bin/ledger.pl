print "ok\n";
