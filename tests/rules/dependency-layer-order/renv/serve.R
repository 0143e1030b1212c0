cat('tides\n')
