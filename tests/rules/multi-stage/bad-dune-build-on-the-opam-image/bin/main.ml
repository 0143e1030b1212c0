let () = print_endline "ledger"
